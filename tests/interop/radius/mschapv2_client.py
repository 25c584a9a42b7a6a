"""MS-CHAPv2 over RADIUS with pyrad, the NT-Response computed here (RFC 2759 §8).

usage: mschapv2_client.py SERVER PORT SECRET SOURCE_IP USER PASSWORD
Prints ACCEPT or REJECT, then what it verified. Exit status 0 unless something is wrong.
"""
import hashlib
import os
import sys

from Crypto.Cipher import DES
from Crypto.Hash import MD4
from pyrad.client import Client
from pyrad.dictionary import Dictionary
import pyrad.packet


def nt_hash(password):
    return MD4.new(password.encode("utf-16-le")).digest()


def des_key(k7):
    bits = int.from_bytes(k7, "big")
    out = bytearray()
    for i in range(8):
        out.append(((bits >> (56 - 7 * (i + 1))) & 0x7F) << 1)
    return bytes(out)


def challenge_response(challenge, pw_hash):
    z = pw_hash + b"\0" * 5
    return b"".join(DES.new(des_key(z[i:i + 7]), DES.MODE_ECB).encrypt(challenge) for i in (0, 7, 14))


def challenge_hash(peer, auth, user):
    return hashlib.sha1(peer + auth + user).digest()[:8]


def authenticator_response(pw_hash, nt_response, peer, auth, user):
    magic1 = b"Magic server to client signing constant"
    magic2 = b"Pad to make it do more than one iteration"
    digest = hashlib.sha1(MD4.new(pw_hash).digest() + nt_response + magic1).digest()
    digest = hashlib.sha1(digest + challenge_hash(peer, auth, user) + magic2).digest()
    return "S=" + digest.hex().upper()


def main():
    server, port, secret, source, user, password = sys.argv[1:7]
    here = os.path.dirname(os.path.abspath(__file__))
    client = Client(server=server, authport=int(port), secret=secret.encode(),
                    dict=Dictionary(os.path.join(here, "dictionary")))
    client.bind((source, 0))
    client.timeout = 3
    client.retries = 1
    auth_challenge = os.urandom(16)
    peer_challenge = os.urandom(16)
    ident = 7
    nt_response = challenge_response(challenge_hash(peer_challenge, auth_challenge, user.encode()), nt_hash(password))
    req = client.CreateAuthPacket(code=pyrad.packet.AccessRequest, User_Name=user)
    req["MS-CHAP-Challenge"] = auth_challenge
    req["MS-CHAP2-Response"] = bytes([ident, 0]) + peer_challenge + b"\0" * 8 + nt_response
    req.add_message_authenticator()
    reply = client.SendPacket(req)
    if reply.code == pyrad.packet.AccessAccept:
        success = reply["MS-CHAP2-Success"][0]
        want = authenticator_response(nt_hash(password), nt_response, peer_challenge, auth_challenge, user.encode())
        assert success[0] == ident, success
        assert success[1:].decode() == want, (success, want)
        assert "MS-MPPE-Send-Key" in reply and "MS-MPPE-Recv-Key" in reply
        assert reply.verify_message_authenticator(original_authenticator=req.authenticator)
        print("ACCEPT", "authenticator-response-ok", "rate=" + reply["Mikrotik-Rate-Limit"][0])
    elif reply.code == pyrad.packet.AccessReject:
        error = reply["MS-CHAP-Error"][0] if "MS-CHAP-Error" in reply else b""
        print("REJECT", error[1:].decode(errors="replace"))
    else:
        print("UNEXPECTED", reply.code)
        sys.exit(1)


if __name__ == "__main__":
    main()
