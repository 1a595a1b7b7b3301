"""Hardware adapters: the only code that imports gpiozero, picamera2, smbus2 or other device
libraries. ``focusd.hw.base`` states what each adapter must provide; the simulator
(``focusd.sim``) provides the same interfaces on a desktop.
"""
