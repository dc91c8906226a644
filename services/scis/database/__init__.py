"""Database: the SQL explorer — sanitised, read-only, time- and row-limited queries."""
