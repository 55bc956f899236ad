"""Pure image work with Pillow: fitting a story image to a platform (`fit`) and drawing a
title card for a story without one (`cards`). No I/O: the adapters download and upload
(bot/platforms/images.py, bot/platforms/hosting.py)."""
