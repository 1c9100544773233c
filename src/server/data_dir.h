// The layout of porthole-server's data directory (made by
// `porthole-server init`; README "The data directory"). Every part of the server
// finds its files through here.
//
//   DATA_DIR/                      0700
//     server.toml                  0644  the configuration (config.h)
//     server.db                    0600  the SQLite store (+ -wal, -shm)
//     tls/                         0700  the HTTPS listeners
//       ca.pem                     0644  server CA certificate (devices'
//                                        root.crt; operators pin its SHA-256)
//       ca.key                     0600  its key
//       server.pem                 0644  server certificate + CA (chain)
//       server.key                 0600  its key
//     devices/                     0700  the device CA (client certificates)
//       ca.pem                     0644
//       ca.key                     0600
//     relay/                       0700  the SSH relay
//       host_key_ed25519           0600  OpenSSH private key
//       host_key_ed25519.pub       0644
//     director/                    0700  the director's signing keys and
//                                        documents (director::Initialize)
//
// Plain data; no I/O.
#ifndef PORTHOLE_SERVER_DATA_DIR_H_
#define PORTHOLE_SERVER_DATA_DIR_H_

#include <string>

namespace porthole::server {

struct DataDir {
  std::string root;  // absolute, no trailing '/'

  std::string Path(const char* relative) const { return root + "/" + relative; }
  std::string ConfigFile() const { return Path("server.toml"); }
  std::string DefaultStoreFile() const { return Path("server.db"); }
  std::string TlsDir() const { return Path("tls"); }
  std::string ServerCaCert() const { return Path("tls/ca.pem"); }
  std::string ServerCaKey() const { return Path("tls/ca.key"); }
  std::string ServerCertChain() const { return Path("tls/server.pem"); }
  std::string ServerKey() const { return Path("tls/server.key"); }
  std::string DevicesDir() const { return Path("devices"); }
  std::string DeviceCaCert() const { return Path("devices/ca.pem"); }
  std::string DeviceCaKey() const { return Path("devices/ca.key"); }
  std::string RelayDir() const { return Path("relay"); }
  std::string RelayHostKey() const { return Path("relay/host_key_ed25519"); }
  std::string RelayHostKeyPub() const {
    return Path("relay/host_key_ed25519.pub");
  }
  std::string DirectorDir() const { return Path("director"); }
};

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_DATA_DIR_H_
