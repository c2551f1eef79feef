"""The page at `/` for people who do not write code: its files and how they are served."""
