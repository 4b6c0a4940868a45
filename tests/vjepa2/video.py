"""The seeded test video of the V-JEPA 2 tests: tests/cogvideox/make_video.py's
smooth moving content (waves, blobs, a brightness ramp and a cut), loaded by
file path because both test folders have modules named make_folder and
reference, so neither directory can simply go on sys.path beside the other."""
import importlib.util
import os

_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cogvideox", "make_video.py")
_spec = importlib.util.spec_from_file_location("cogvideox_make_video", _path)
make_video = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_video)
