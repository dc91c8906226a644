"""Reports: PDF case reports from templates."""
