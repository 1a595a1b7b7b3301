"""picamera2.request stand-in: CompletedRequest and MappedArray over mmap buffers."""

import threading

import numpy as np

from . import _standin


def _shared_view(buffer, config):
    """picamera2's Helpers._make_array_shared for the formats the stand-in produces: no copy."""
    fmt = config["format"]
    w, h = config["size"]
    stride = config["stride"]
    if fmt in ("BGR888", "RGB888"):
        return buffer.reshape((h, stride))[:, : w * 3].reshape((h, w, 3))
    if fmt in ("YUV420", "YVU420"):
        return buffer.reshape((h * 3 // 2, stride))
    if fmt in _standin.RAW_FORMATS:  # picamera2: formats.is_raw(fmt)
        return buffer.reshape((h, stride))
    raise RuntimeError("Format " + fmt + " not supported")


class MappedArray:
    def __init__(self, request, stream, reshape=True, write=True):
        self.__request = request
        self.__stream = stream
        self.__reshape = reshape
        self.__array = None

    def __enter__(self):
        request = self.__request
        if request.request is None:
            raise RuntimeError("failed to find buffer")
        memory = request.request.buffers[self.__stream]
        if memory.closed:  # picamera2: no longer in the allocator's mapped_buffers
            raise RuntimeError("failed to find buffer")
        buffer = np.frombuffer(memory, dtype=np.uint8)  # picamera2: np.array(mmap, copy=False)
        self.__array = _shared_view(buffer, request.config[self.__stream]) if self.__reshape else buffer
        request.request.open_maps += 1
        return self

    def __exit__(self, exc_type, exc_value, exc_traceback):
        if self.__array is not None:
            self.__array = None
            self.__request.request.open_maps -= 1

    @property
    def array(self):
        return self.__array


class CompletedRequest:
    def __init__(self, request, picam2):
        self.request = request
        self.ref_count = 1
        self.lock = picam2.request_lock
        self.picam2 = picam2
        self.stop_count = picam2.stop_count
        self.configure_count = picam2.configure_count
        self.config = picam2.camera_config.copy()
        self.stream_map = dict(picam2.stream_map)
        with self.lock:
            picam2.allocator.acquire(request.buffers)
        _standin.LEDGER.acquire(self, f"request of camera configuration {self.configure_count} "
                                      f"(made on thread {threading.current_thread().name})")

    def acquire(self):
        with self.lock:
            if self.ref_count == 0:
                raise RuntimeError("CompletedRequest: acquiring lock with ref_count 0")
            self.ref_count += 1

    def release(self):
        with self.lock:
            self.ref_count -= 1
            if self.ref_count < 0:
                raise RuntimeError("CompletedRequest: lock now has negative ref_count")
            if self.ref_count > 0:
                return
            slot = self.request
            if slot.open_maps:
                # picamera2 would hand a still-mapped buffer back to the camera: a use-after-free
                raise RuntimeError("CompletedRequest released while a MappedArray is still open")
            picam2 = self.picam2
            if picam2.started and self.stop_count == picam2.stop_count:
                # as picamera2: the controls set since the last re-queue travel with this request,
                # read, then replaced by new ones without a lock against set_controls
                controls = dict(picam2._pending_controls)  # picam2.controls.get_libcamera_controls()
                if _standin.RELEASE_WINDOW is not None:
                    _standin.RELEASE_WINDOW()
                picam2._pending_controls = {}  # picam2.controls = Controls(picam2)
                picam2._sensor.queue(slot, controls)
            picam2.allocator.release(slot.buffers)  # unmaps buffers of an earlier allocation
            self.request = None
            self.config = {}
            self.stream_map = {}
        _standin.LEDGER.release(self)

    def make_buffer(self, name):
        if self.stream_map.get(name) is None:
            raise RuntimeError(f"Stream {name!r} is not defined")
        return np.array(self.request.buffers[name], dtype=np.uint8)  # a copy

    def get_metadata(self):
        return dict(self.request.metadata)

    def make_array(self, name):
        config = self.config.get(name, None)
        if config is None:
            raise RuntimeError(f"Stream {name!r} is not defined")
        with MappedArray(self, name) as m:
            if m.array.data.c_contiguous:
                return np.copy(m.array)
            return np.ascontiguousarray(m.array)
