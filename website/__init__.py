"""The course's website, lecture decks, handouts and their checks (python -m website.NAME)."""
