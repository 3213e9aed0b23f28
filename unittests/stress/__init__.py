"""Reliability runs against real server processes: the helpers the tests share, and `make stress`."""
