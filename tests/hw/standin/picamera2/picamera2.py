"""picamera2.picamera2 stand-in: the Picamera2 class, with picamera2's signatures and behaviour."""

import threading
import time
from functools import partial

import libcamera

from . import _standin
from .job import Job
from .request import CompletedRequest


class Picamera2:
    @staticmethod
    def global_camera_info():
        spec = _standin.MODULE
        return [{"Model": spec.model, "Location": 2, "Rotation": 180, "Id": "/base/axi/pcie@120000/rp1/i2c@88000/" + spec.model + "@1a", "Num": 0}]

    def __init__(self, camera_num=0, verbose_console=None, tuning=None, allocator=None):
        if camera_num >= len(self.global_camera_info()):
            raise RuntimeError(f'No camera number {camera_num} found - use "rpicam-hello --list-cameras" to check connected cameras')
        self._spec = _standin.MODULE
        self.request_lock = threading.Lock()
        self.lock = threading.Lock()
        self.is_open = True
        self.started = False
        self.stop_count = 0
        self.configure_count = 0
        self.camera_config = {}
        self.stream_map = {}
        self.completed_requests = []
        self._job_list = []
        self._max_queue_len = 0
        self._pending_controls = {}
        self._sensor = None
        self.sensors_used = []  # every Sensor run, for tests
        self.allocator = _standin.Allocator()
        self._buffer_sets = []  # the current allocation: one dict of stream -> mmap per request
        # libcamera's IPA (its af.cpp lens state) lives as long as the camera: a mode switch keeps it
        self._af = _standin.Af(self._spec) if self._spec.lens is not None else None
        self.slots = []  # every request buffer set allocated, for tests
        _standin.LEDGER.cameras.append(self)
        self.camera_ctrl_info = self._controls_info(self._spec.modes[0][1])
        self.sensor_resolution = self._spec.full_size
        self.sensor_format = "SRGGB10_CSI2P"

    def _controls_info(self, fps):
        info = {
            "FrameDurationLimits": (int(1e6 / fps), 1_000_000_000, int(1e6 / fps)),
            "ExposureTime": (26, 1_000_000_000, 20000),
            "AnalogueGain": (1.0, 16.0, 1.0),
            "AeEnable": (False, True, True),  # the rpi IPA's (ipa/rpi/common/ipa_base.cpp ipaControls)
            "ExposureValue": (-8.0, 8.0, 0.0),
            "AeMeteringMode": (0, 3, 0),
            "AwbMode": (0, 7, 0),
            "ScalerCrop": ((0, 0, 128, 128), (0, 0, *self._spec.full_size), (0, 0, *self._spec.full_size)),
        }
        if self._spec.lens is not None:
            info["AfMode"] = (0, 2, 0)
            info["LensPosition"] = tuple(self._spec.lens)
        if self._spec.noise_reduction:
            info["NoiseReductionMode"] = (0, 4, 0)
        return info

    @property
    def camera_properties(self):
        return {"Model": self._spec.model, "PixelArraySize": self._spec.full_size, "ColorFilterArrangement": 0,
                "Location": 2, "Rotation": 180}

    @property
    def camera_controls(self):
        return dict(self.camera_ctrl_info)

    @property
    def sensor_modes(self):
        return [{"format": "SRGGB10_CSI2P", "unpacked": "SRGGB10", "bit_depth": 10, "size": tuple(size),
                 "fps": round(fps, 2), "crop_limits": (0, 0, *self._spec.full_size),
                 "exposure_limits": (26, 1_000_000_000)} for size, fps in self._spec.modes]

    _raw_stream_ignore_list = ["bit_depth", "crop_limits", "exposure_limits", "fps", "unpacked"]

    @staticmethod
    def _make_initial_stream_config(stream_config, updates, ignore_list=[]):
        if updates is None:
            return updates
        valid = ("format", "size", "stride", "preserve_ar")
        for key, value in updates.items():
            if key in valid:
                stream_config[key] = value
            elif key not in ignore_list:
                raise ValueError(f"Bad key {key!r}: valid stream configuration keys are {valid}")
        return stream_config

    def check_camera_config(self, camera_config):
        if camera_config.get("sensor") is not None:
            allowed_keys = {"bit_depth", "output_size"}
            bad_keys = set(camera_config["sensor"].keys()).difference(allowed_keys)
            if bad_keys:
                raise RuntimeError(f"Unexpected keys {bad_keys} in sensor configuration")
        for name in ("main", "lores", "raw"):
            if camera_config.get(name) is not None:
                w, h = camera_config[name]["size"]
                if type(camera_config[name]["size"]) is not tuple or w % 2 or h % 2:
                    raise RuntimeError("width and height should be even")
        if camera_config["lores"] is not None:
            main_w, main_h = camera_config["main"]["size"]
            lores_w, lores_h = camera_config["lores"]["size"]
            if lores_w > main_w or lores_h > main_h:
                raise RuntimeError("lores stream dimensions may not exceed main stream")

    def create_still_configuration(
        self,
        main={},
        lores=None,
        raw={},
        transform=libcamera.Transform(),
        colour_space=libcamera.ColorSpace.Sycc(),
        buffer_count=1,
        controls={},
        display=None,
        encode=None,
        queue=True,
        sensor={},
        use_case="still",
    ):
        main = self._make_initial_stream_config({"format": "BGR888", "size": self.sensor_resolution, "preserve_ar": True}, main)
        lores = self._make_initial_stream_config({"format": "YUV420", "size": main["size"], "preserve_ar": False}, lores)
        raw = self._make_initial_stream_config({"format": self.sensor_format, "size": main["size"]}, raw,
                                               self._raw_stream_ignore_list)
        # as picamera2: its still defaults are merged under the caller's controls
        if "NoiseReductionMode" in self.camera_controls and "FrameDurationLimits" in self.camera_controls:
            controls = {
                "NoiseReductionMode": libcamera.controls.draft.NoiseReductionModeEnum.HighQuality,
                "FrameDurationLimits": (100, 1000000 * 1000),
            } | controls
        return {"use_case": use_case, "transform": transform, "colour_space": colour_space,
                "buffer_count": buffer_count, "queue": queue, "main": main, "lores": lores, "raw": raw,
                "controls": controls, "sensor": sensor, "display": display, "encode": encode}

    def configure(self, camera_config=None):
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        config = dict(camera_config)
        for name in ("main", "lores", "raw"):
            if config.get(name) is not None:
                config[name] = dict(config[name])
        self.check_camera_config(config)
        wanted = (config.get("sensor") or {}).get("output_size") or config["main"]["size"]
        size, fps = min(self._spec.modes, key=lambda m: abs(m[0][0] - wanted[0]) + abs(m[0][1] - wanted[1]))
        self._mode = (tuple(size), fps)
        config["main"]["stride"] = config["main"]["size"][0] * 3
        if config["lores"] is not None:
            config["lores"]["stride"] = -(-config["lores"]["size"][0] // 64) * 64
        if config["raw"] is not None:
            # libcamera: the raw stream is the sensor mode's output, whatever size was asked for
            fmt = config["raw"]["format"]
            if fmt not in _standin.RAW_FORMATS:
                raise RuntimeError("Unrecognised raw format " + fmt)
            config["raw"]["size"] = self._mode[0]
            config["raw"]["stride"] = _standin.raw_stride(fmt, self._mode[0][0])
        self.camera_ctrl_info = self._controls_info(fps)
        for name in config["controls"]:
            if name not in self.camera_ctrl_info:
                raise RuntimeError(f"Control {name} is not advertised by libcamera")
        self._max_queue_len = 1 if config["queue"] and config["buffer_count"] > 1 else 0
        self.camera_config = config
        self.stream_map = {"main": "main", "lores": "lores" if config["lores"] is not None else None,
                           "raw": "raw" if config["raw"] is not None else None}
        self._pending_controls = {}
        self.configure_count += 1
        # picamera2's configure_ allocates: earlier buffers that no request holds are unmapped here
        sizes = {"main": config["main"]["size"][1] * config["main"]["stride"]}
        if config["lores"] is not None:
            sizes["lores"] = config["lores"]["size"][1] * 3 // 2 * config["lores"]["stride"]
        if config["raw"] is not None:
            sizes["raw"] = config["raw"]["size"][1] * config["raw"]["stride"]
        self._buffer_sets = self.allocator.allocate(sizes, config["buffer_count"])

    def camera_configuration(self):
        return self.camera_config

    def stream_configuration(self, name="main"):
        return self.camera_config[name]

    def start(self, config=None, show_preview=False):
        if config is not None:
            self.configure(config)
        if not self.camera_config:
            raise RuntimeError("Camera has not been configured")
        if self.started:
            return
        controls = dict(self.camera_config["controls"])
        controls.update(self._pending_controls)
        self._pending_controls = {}
        limits = controls.get("FrameDurationLimits", (0, 0))
        min_us = int(1e6 / self._mode[1])
        duration_us = max(min_us, int(limits[0])) if limits[0] else min_us  # clipped to the sensor's limits
        self._sensor = _standin.Sensor(self, duration_us * 1000, controls)
        self.sensors_used.append(self._sensor)
        for buffers in self._buffer_sets:  # new requests over the allocated buffers, as start_ makes
            slot = _standin.Slot(buffers)
            self.slots.append(slot)
            self._sensor.queue(slot, {})
        self.started = True
        self._sensor.start()

    def stop_(self, request=None):
        """picamera2's stop_, on the event loop (inside a job, under ``self.lock``)."""
        if self.started:
            self.stop_count += 1
            self._sensor.stop()  # on its own thread: that thread ends when this round is over
            self.started = False
            while self.completed_requests:
                self.completed_requests.pop(0).release()
        return (True, None)

    def stop(self):
        if not self.started:
            return
        # from the application: the sensor thread is joined first, then what picamera2 kept released
        self.stop_count += 1
        self._sensor.stop()
        self.started = False
        with self.lock:
            while self.completed_requests:
                self.completed_requests.pop(0).release()

    def close(self):
        if not self.is_open:
            return
        self.stop()
        self.is_open = False
        try:  # picamera2 drops its DmaAllocator: __del__ closes it, and swallows what that raises
            self.allocator.close()
        except BufferError as error:
            _standin.LEDGER.unraisable.append(error)

    def set_controls(self, controls):
        for name in controls:
            if name not in self.camera_ctrl_info:
                raise RuntimeError(f"Control {name} is not advertised by libcamera")
        self._pending_controls.update(controls)

    def _process(self, slots):
        """picamera2's process_requests, on the sensor thread."""
        _standin.EVENT_LOOP.pass_through()
        requests = [CompletedRequest(slot, self) for slot in slots]
        finished = []
        with self.lock:
            for req in requests:
                req.acquire()
            self.completed_requests += requests
            while self._job_list:
                if self._job_list[0].execute():
                    finished.append(self._job_list.pop(0))
                else:
                    break
            for req in requests:
                req.release()
            while len(self.completed_requests) > self._max_queue_len:
                self.completed_requests.pop(0).release()
        for job in finished:
            job.signal()

    def wait(self, job, timeout=None):
        return job.get_result(timeout=timeout)

    def dispatch_functions(self, functions, wait, signal_function=None, immediate=False):
        if wait is None:
            wait = signal_function is None
        timeout = wait
        if timeout is True:
            timeout = None
        with self.lock:
            only_job = not self._job_list
            job = Job(functions, signal_function)
            self._job_list.append(job)
            if only_job and (self.completed_requests or immediate) and self._sensor is not None:
                self._sensor.wake.set()
        return job.get_result(timeout=timeout) if wait else job

    def cancel_all_and_flush(self):
        with self.lock:
            for job in self._job_list:
                job.cancel()
            self._job_list = []

    def wait_for_timestamp_(self, timestamp_ns):
        if not timestamp_ns:
            return (True, None)
        while self.completed_requests:
            md = self.completed_requests[0].get_metadata()
            frame_timestamp_ns = md["SensorTimestamp"] - 1000 * md["ExposureTime"]
            if frame_timestamp_ns >= timestamp_ns:
                return (True, None)
            self.completed_requests.pop(0).release()
        return (False, None)

    def capture_request_(self):
        if not self.completed_requests:
            return (False, None)
        return (True, self.completed_requests.pop(0))

    def capture_request(self, wait=None, signal_function=None, flush=None):
        if flush is True:
            flush = time.monotonic_ns()
        functions = [partial(self.wait_for_timestamp_, flush), self.capture_request_]
        return self.dispatch_functions(functions, wait, signal_function)

    def switch_mode_(self, camera_config):
        self.stop_()
        self.configure(camera_config)
        self.start()
        _standin.EVENT_LOOP.switched()
        return (True, self.camera_config)

    def switch_mode(self, camera_config, wait=None, signal_function=None):
        # as picamera2: a job that the event loop runs at once (immediate), on its own thread
        functions = [partial(self.switch_mode_, camera_config)]
        return self.dispatch_functions(functions, wait, signal_function, immediate=True)
