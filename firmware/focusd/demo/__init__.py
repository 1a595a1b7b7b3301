"""The desktop demo: button scripts (``*.buttons``, shipped as package data) that press the
simulated camera's buttons through gpiozero's mock pins."""
