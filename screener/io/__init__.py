"""Reading listing exports and writing scan outputs."""
