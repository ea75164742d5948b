/* ssh-transport: how fast an SSH client library alone moves a console's bytes.
 *
 * One SSH session to 127.0.0.1:SSHD_PORT (public key, host key checked against
 * KNOWN_HOSTS), one direct-tcpip channel to 127.0.0.1:TARGET_PORT (cgw-bench
 * backend --mode source), read in blocking mode for SECONDS after a warm-up of
 * 0.5 s. Prints the library, the cipher and MAC negotiated, MB/s and the CPU
 * seconds this process spent per 10^9 bytes. No WebSocket, no event loop: the
 * bound that the library sets for a console-gw built on it. Used by
 * bench/ssh-bound (see docs/benchmarks.md, "The SSH path").
 *
 * usage: ssh-transport libssh2|libssh SSHD_PORT USER KEY KNOWN_HOSTS TARGET_PORT SECONDS
 *                      [CIPHERS [MACS]]
 */
#include <arpa/inet.h>
#include <libssh/libssh.h>
#include <libssh2.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
         (double)u.ru_stime.tv_usec / 1e6;
}

static void die(const char* what) {
  fprintf(stderr, "ssh-transport: %s\n", what);
  exit(1);
}

typedef long (*read_fn)(void* channel, char* buffer, size_t size);

static void measure(const char* library, const char* cipher, const char* mac, read_fn read_some,
                    void* channel, double seconds) {
  static char buffer[256 * 1024];
  const double warm_end = now() + 0.5;
  while (now() < warm_end) {
    if (read_some(channel, buffer, sizeof buffer) <= 0) die("read failed");
  }
  unsigned long long bytes = 0;
  const double t0 = now(), c0 = cpu();
  while (now() - t0 < seconds) {
    const long n = read_some(channel, buffer, sizeof buffer);
    if (n <= 0) die("read failed");
    bytes += (unsigned long long)n;
  }
  const double t1 = now(), c1 = cpu();
  printf("ssh-transport library=%s cipher=%s mac=%s mb_per_s=%.1f cpu_s_per_gb=%.3f\n", library,
         cipher, mac, (double)bytes / (t1 - t0) / 1e6, (c1 - c0) / ((double)bytes / 1e9));
}

static long libssh2_read(void* channel, char* buffer, size_t size) {
  return (long)libssh2_channel_read((LIBSSH2_CHANNEL*)channel, buffer, size);
}

static long libssh_read(void* channel, char* buffer, size_t size) {
  return (long)ssh_channel_read((ssh_channel)channel, buffer, (uint32_t)size, 0);
}

static int connect_to(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address;
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t)port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr*)&address, sizeof address) != 0) die("connect failed");
  return fd;
}

static void with_libssh2(int port, const char* user, const char* key, const char* known_hosts,
                         int target, double seconds, const char* ciphers, const char* macs) {
  if (libssh2_init(0) != 0) die("libssh2_init failed");
  const int fd = connect_to(port);
  LIBSSH2_SESSION* session = libssh2_session_init();
  if (ciphers) {
    libssh2_session_method_pref(session, LIBSSH2_METHOD_CRYPT_CS, ciphers);
    libssh2_session_method_pref(session, LIBSSH2_METHOD_CRYPT_SC, ciphers);
  }
  if (macs) {
    libssh2_session_method_pref(session, LIBSSH2_METHOD_MAC_CS, macs);
    libssh2_session_method_pref(session, LIBSSH2_METHOD_MAC_SC, macs);
  }
  if (libssh2_session_handshake(session, fd) != 0) die("libssh2 handshake failed");
  LIBSSH2_KNOWNHOSTS* hosts = libssh2_knownhost_init(session);
  if (libssh2_knownhost_readfile(hosts, known_hosts, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
    die("cannot read known_hosts");
  }
  size_t length = 0;
  int type = 0;
  const char* host_key = libssh2_session_hostkey(session, &length, &type);
  struct libssh2_knownhost* found = NULL;
  if (libssh2_knownhost_checkp(hosts, "127.0.0.1", port, host_key, length,
                               LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW,
                               &found) != LIBSSH2_KNOWNHOST_CHECK_MATCH) {
    die("host key not trusted");
  }
  if (libssh2_userauth_publickey_fromfile(session, user, NULL, key, NULL) != 0) {
    die("libssh2 authentication failed");
  }
  LIBSSH2_CHANNEL* channel =
      libssh2_channel_direct_tcpip_ex(session, "127.0.0.1", target, "127.0.0.1", 0);
  if (!channel) die("libssh2 channel open failed");
  measure("libssh2-" LIBSSH2_VERSION, libssh2_session_methods(session, LIBSSH2_METHOD_CRYPT_SC),
          libssh2_session_methods(session, LIBSSH2_METHOD_MAC_SC), libssh2_read, channel, seconds);
}

static void with_libssh(int port, const char* user, const char* key, const char* known_hosts,
                        int target, double seconds, const char* ciphers, const char* macs) {
  ssh_session session = ssh_new();
  ssh_options_set(session, SSH_OPTIONS_HOST, "127.0.0.1");
  ssh_options_set(session, SSH_OPTIONS_PORT, &port);
  ssh_options_set(session, SSH_OPTIONS_USER, user);
  ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, known_hosts);
  ssh_options_set(session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
  if (ciphers) {
    ssh_options_set(session, SSH_OPTIONS_CIPHERS_C_S, ciphers);
    ssh_options_set(session, SSH_OPTIONS_CIPHERS_S_C, ciphers);
  }
  if (macs) {
    ssh_options_set(session, SSH_OPTIONS_HMAC_C_S, macs);
    ssh_options_set(session, SSH_OPTIONS_HMAC_S_C, macs);
  }
  if (ssh_connect(session) != SSH_OK) die(ssh_get_error(session));
  if (ssh_session_is_known_server(session) != SSH_KNOWN_HOSTS_OK) die("host key not trusted");
  ssh_key private_key = NULL;
  if (ssh_pki_import_privkey_file(key, NULL, NULL, NULL, &private_key) != SSH_OK) {
    die("cannot read the key");
  }
  if (ssh_userauth_publickey(session, NULL, private_key) != SSH_AUTH_SUCCESS) {
    die("libssh authentication failed");
  }
  ssh_channel channel = ssh_channel_new(session);
  if (ssh_channel_open_forward(channel, "127.0.0.1", target, "127.0.0.1", 0) != SSH_OK) {
    die(ssh_get_error(session));
  }
  const char* mac = ssh_get_hmac_in(session);
  measure("libssh-" SSH_STRINGIFY(LIBSSH_VERSION), ssh_get_cipher_in(session), mac ? mac : "-",
          libssh_read, channel, seconds);
}

int main(int argc, char** argv) {
  if (argc < 8) {
    fprintf(stderr,
            "usage: ssh-transport libssh2|libssh SSHD_PORT USER KEY KNOWN_HOSTS TARGET_PORT "
            "SECONDS [CIPHERS [MACS]]\n");
    return 2;
  }
  const int port = atoi(argv[2]), target = atoi(argv[6]);
  const double seconds = atof(argv[7]);
  const char* ciphers = argc > 8 ? argv[8] : NULL;
  const char* macs = argc > 9 ? argv[9] : NULL;
  if (strcmp(argv[1], "libssh2") == 0) {
    with_libssh2(port, argv[3], argv[4], argv[5], target, seconds, ciphers, macs);
  } else if (strcmp(argv[1], "libssh") == 0) {
    with_libssh(port, argv[3], argv[4], argv[5], target, seconds, ciphers, macs);
  } else {
    die("the library is libssh2 or libssh");
  }
  return 0;
}
