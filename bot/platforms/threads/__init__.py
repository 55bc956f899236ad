"""Threads (Meta's Threads API): a container, then `threads_publish`, as Instagram does.

Light on purpose: the registry imports the adapter only when Threads is used.
"""
