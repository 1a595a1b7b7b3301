"""Device tools a builder runs on the camera (not the service): lens sweeps for
``focusd measure-latency`` and ``focusd record-sweep``."""
