"""A worker for the WatchDog tests: sends ``PID;TIMESTAMP`` heartbeats over UDP to
127.0.0.1:PORT every 0.1 s; after COUNT heartbeats (-1: never) it goes on living but stops
sending (a hung worker). Usage: heartbeat.py PORT COUNT"""

import os
import socket
import sys
import time

port, count = int(sys.argv[1]), int(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
while True:
    if count < 0 or sent < count:
        sock.sendto(f"{os.getpid()};{time.time()}".encode(), ("127.0.0.1", port))
        sent += 1
    time.sleep(0.1)
