"""Run one command over SSH with paramiko and exit with its exit status,
or 255 when the connection or the login fails, as ssh does.

Usage: python3 paramiko_exec.py HOST PORT PRIVATE_KEY KNOWN_HOSTS COMMAND
(TestOtherClients runs it with Debian's python3-paramiko.)
"""
import sys

import paramiko


def main():
    host, port, key, known_hosts, command = sys.argv[1:]
    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(host, port=int(port), username="dokku", key_filename=key,
                       look_for_keys=False, allow_agent=False, timeout=15)
    except (paramiko.SSHException, OSError) as e:
        print("paramiko: %s" % e, file=sys.stderr)
        return 255
    stdin, stdout, stderr = client.exec_command(command)
    stdin.close()
    sys.stdout.write(stdout.read().decode())
    sys.stderr.write(stderr.read().decode())
    status = stdout.channel.recv_exit_status()
    client.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
