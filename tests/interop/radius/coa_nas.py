"""A NAS for the interop test: a pyrad server that receives Disconnect-Request and
CoA-Request (RFC 5176), prints one line per request and ACKs it.

usage: coa_nas.py LISTEN_IP PORT SECRET CLIENT_IP...
"""
import os
import sys

from pyrad.dictionary import Dictionary
import pyrad.host
import pyrad.packet
import pyrad.server


class Nas(pyrad.server.Server):
    def _answer(self, pkt, kind, code):
        fields = {
            "user": pkt["User-Name"][0] if "User-Name" in pkt else "",
            "session": pkt["Acct-Session-Id"][0] if "Acct-Session-Id" in pkt else "",
            "rate": pkt["Mikrotik-Rate-Limit"][0] if "Mikrotik-Rate-Limit" in pkt else "",
        }
        print(kind, " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)
        reply = self.CreateReplyPacket(pkt)
        reply.code = code
        self.SendReplyPacket(pkt.fd, reply)

    def HandleDisconnectPacket(self, pkt):
        self._answer(pkt, "DISCONNECT", pyrad.packet.DisconnectACK)

    def HandleCoaPacket(self, pkt):
        self._answer(pkt, "COA", pyrad.packet.CoAACK)


def main():
    listen, port, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    here = os.path.dirname(os.path.abspath(__file__))
    hosts = {ip: pyrad.server.RemoteHost(ip, secret, ip) for ip in sys.argv[4:]}
    srv = Nas(addresses=[listen], coaport=port, hosts=hosts, dict=Dictionary(os.path.join(here, "dictionary")),
              auth_enabled=False, acct_enabled=False, coa_enabled=True)
    print("READY", flush=True)
    srv.Run()


if __name__ == "__main__":
    main()
