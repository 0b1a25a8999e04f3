"""Import and export of dataset file layouts (the public SynthHuman release)."""
