"""Create: the profile creation wizard — validation first, then the profiles service."""
