"""Benchmarks: trio_zmq side by side with pyzmq, in one run, as ratios."""
