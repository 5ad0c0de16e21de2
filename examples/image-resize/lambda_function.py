import hashlib
import os

import numpy
import PIL.Image

THUMBNAIL = int(os.environ.get("THUMBNAIL", "64"))


def lambda_handler(event, context):
    """Makes a synthetic photo of the requested size and shrinks it to a thumbnail."""
    width = int((event or {}).get("width", 640))
    height = int((event or {}).get("height", 480))
    x = numpy.linspace(0, 255, width, dtype=numpy.uint8)
    y = numpy.linspace(0, 255, height, dtype=numpy.uint8)
    photo = PIL.Image.fromarray(numpy.add.outer(y, x).astype(numpy.uint8)).convert("RGB")
    photo.thumbnail((THUMBNAIL, THUMBNAIL))
    return {
        "thumbnail": list(photo.size),
        "sha1": hashlib.sha1(photo.tobytes()).hexdigest()[:12],
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
