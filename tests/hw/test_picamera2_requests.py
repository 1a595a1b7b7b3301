"""The picamera2 adapter's requests and jobs on the stand-in: none is left behind when a wait times
out, and a lens command survives picamera2's unlocked controls hand-over.

picamera2 runs every capture and mode switch as a job on its event loop; ``wait`` with a timeout
gives up waiting, not the job, which stays queued and later takes a request nobody releases (or
switches the mode under the stream). The ``standin`` fixture fails any test that ends with a
request outstanding. The interleavings are driven with the stand-in's ``EVENT_LOOP`` gate and
``RELEASE_WINDOW`` hook, on events: no test here waits on time passing.
"""

from __future__ import annotations

import threading

import pytest

from focusd.errors import CameraError
from testcam import TIMEOUT, lens_positions_until, picam2_of, start_camera

#: the full-resolution capture's timeout in these tests: what elapses is a wait on a stalled loop
SHORT_S = 0.2


@pytest.fixture
def impatient(standin):
    cam = start_camera(standin, full_resolution_timeout_s=SHORT_S)
    cam.next_frame(TIMEOUT).release()
    yield cam
    standin.EVENT_LOOP.open()
    cam.stop()


def one_round_of_the_event_loop(picam2) -> None:
    """A capture straight from picamera2, released: jobs run in order, so any job still queued
    before it has run (and taken its frame) once this returns."""
    picam2.capture_request(wait=TIMEOUT).release()


def test_a_mode_switch_that_times_out_is_withdrawn_and_the_camera_reopened(impatient, standin):
    picam2 = picam2_of(impatient)
    standin.EVENT_LOOP.close()  # the event loop stalls: the switch to full resolution never runs
    with pytest.raises(CameraError, match="longer than 0.2 s"):
        impatient.full_resolution_capture()
    assert picam2._job_list == []
    standin.EVENT_LOOP.open()
    one_round_of_the_event_loop(picam2)
    assert len(picam2.sensors_used) == 1  # the switch did not happen later, under the stream
    with pytest.raises(CameraError, match="camera reopened"):  # the daemon reopens at this
        impatient.next_frame(TIMEOUT)
    impatient.stop()
    impatient.start()
    impatient.next_frame(TIMEOUT).release()


def test_a_full_resolution_frame_that_times_out_takes_no_request_later(impatient, standin):
    picam2 = picam2_of(impatient)
    standin.EVENT_LOOP.close_after_switch = True  # in full resolution, the loop stalls
    with pytest.raises(CameraError, match="longer than 0.2 s"):
        impatient.full_resolution_capture()
    assert len(picam2.sensors_used) == 2 and picam2._job_list == []
    standin.EVENT_LOOP.open()
    one_round_of_the_event_loop(picam2)  # a capture job left queued would take a frame no one releases
    with pytest.raises(CameraError, match="camera reopened"):
        impatient.next_frame(TIMEOUT)


def test_stop_gives_back_the_frame_a_timed_out_wait_took_after_all(camera, standin):
    picam2 = picam2_of(camera)
    camera.next_frame(TIMEOUT).release()
    standin.EVENT_LOOP.close()
    with pytest.raises(CameraError, match="no frame within"):
        camera.next_frame(0.05)
    standin.EVENT_LOOP.open()
    picam2.wait(camera._pending_job, TIMEOUT)  # the job has run: it holds a request (behind the adapter)
    camera.stop()  # as the daemon does after a frame timeout: the request must go back all the same


def test_a_lens_command_lost_in_picamera2s_controls_hand_over_is_sent_again(camera, standin):
    """picamera2's release reads the controls set since the last request, then replaces them with
    new ones, without a lock against ``set_controls``; on the event loop's thread that happens
    when the camera thread is behind (more than one finished request). A LensPosition set in
    that window is lost; the adapter sends it again once the lens has stayed elsewhere."""
    picam2 = picam2_of(camera)
    for _ in range(3):
        camera.next_frame(TIMEOUT).release()
    in_window, resume = threading.Event(), threading.Event()

    def window() -> None:
        if threading.current_thread().name == "standin-camera" and not in_window.is_set():
            in_window.set()
            resume.wait(TIMEOUT)

    standin.RELEASE_WINDOW = window
    held = camera.next_frame(TIMEOUT)  # held: the camera thread falls behind, the event loop releases
    assert in_window.wait(TIMEOUT), "the event loop never released a request"
    camera.set_lens_position(5.0)  # the camera thread commands inside the window
    standin.RELEASE_WINDOW = None
    resume.set()
    held.release()
    sensor = picam2.sensors_used[-1]
    positions = lens_positions_until(camera, 5.0, most=120)
    assert positions[-1] == 5.0, positions
    carried = [record.controls["LensPosition"] for record in sensor.history if "LensPosition" in record.controls]
    # the write made in the window travelled with no request: the one that did is the adapter's own
    assert carried == [5.0]
