// Pending command results on disk: <commands_dir>/<id>.cmd, RAC's layout
// and format (PROTOCOL.md 5.6), so RAC's leftover records are adopted and
// RAC can adopt ours.
//
// A record exists from the moment a command starts until its result is
// delivered. Empty, it means "started, no result yet" (after a crash: the
// outcome is unknown); otherwise it holds a PendingRecord (command.h).
// Whoever works on a record holds an exclusive flock(2) on it, as RAC does.
//
// Unlike RAC, every change is atomic (RAC bug 24): the new contents go to a
// temporary file in the same directory, which is fsynced, locked, and
// renamed over the record; then the directory is fsynced. The lock moves
// with the contents because the temporary file is locked before the rename
// (AtomicReplace in core/base/file.h cannot do that: its temporary file is
// never exposed). A reader that locked the old file notices that the name
// now points elsewhere and retries. A new record is made the same way and
// linked into place only if no record of that name exists (link(2) fails
// with EEXIST), so two processes can never both start the same command,
// and nobody ever sees it unlocked and empty. The directory must therefore
// be on a POSIX file system (ext4, btrfs, tmpfs...; not vfat).
//
// Records are mode 0600 and a directory this store creates is 0700:
// results can carry a command's output.
//
// Thread safety: List() and Has() may be called from any thread. A Record
// is a handle to be used by one thread at a time. A Record's destructor
// releases its lock and leaves the file in place.
#ifndef PORTHOLE_AGENT_COMMAND_STORE_H_
#define PORTHOLE_AGENT_COMMAND_STORE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/base/unique_fd.h"

namespace porthole::agent {

class CommandStore {
 public:
  // Records live directly in `dir` (config.Absolute(commands_dir)); it is
  // created when the first command starts.
  explicit CommandStore(std::string dir);

  const std::string& dir() const { return dir_; }

  struct Entry {
    std::string id;    // canonical command id
    std::string path;  // <dir>/<file name as found>.cmd
  };

  // The records in the directory, sorted by file name: regular files named
  // <id>.cmd whose <id> parses as a command id (ParseCommandId); other
  // files are not records. A missing directory holds none.
  Result<std::vector<Entry>> List() const;

  // Whether a record for `id` exists.
  Result<bool> Has(std::string_view id) const;

  // A locked record. Move-only; the destructor unlocks and keeps the file.
  class Record {
   public:
    Record(Record&&) = default;
    Record& operator=(Record&&) = default;
    ~Record() = default;

    const std::string& id() const { return id_; }
    const std::string& path() const { return path_; }

    // The whole contents (at most kMaxRecordBytes; more is kCorrupt).
    Result<std::string> Read() const;

    // Atomically replaces the contents, keeping the lock (see above). On
    // failure the record is left as it was.
    Status Replace(std::string_view contents);

    // Deletes the record, then unlocks it. The Record is then spent.
    Status Remove();

   private:
    friend class CommandStore;
    Record(std::string dir, std::string id, std::string path, UniqueFd fd)
        : dir_(std::move(dir)),
          id_(std::move(id)),
          path_(std::move(path)),
          fd_(std::move(fd)) {}
    std::string dir_, id_, path_;
    UniqueFd fd_;  // locked
  };

  // Makes the record of a command that is about to start: empty, locked,
  // and durable (the directory is fsynced, so a reboot the command causes
  // cannot lose it). Creates the directory (0700) if needed. Errors:
  // kAlreadyExists when a record for `id` exists (the command must not run
  // again), I/O errors naming the path.
  Result<Record> Create(const std::string& id);

  // Locks an existing record without waiting. Errors: kUnavailable when
  // another process holds it (RAC, or a second agent: skip it this time),
  // kNotFound when it vanished meanwhile, I/O errors naming the path.
  Result<Record> Lock(const Entry& entry) const;

  // Deletes temporary files that a writer left behind when it died (those
  // nobody holds locked). Errors are ignored: a leftover costs nothing but
  // space.
  void RemoveStaleTemporaries() const;

  // Results hold at most 2 x 819,200 bytes of output, up to six times that
  // once escaped in JSON; anything bigger is not a record.
  static constexpr size_t kMaxRecordBytes = 16 << 20;

 private:
  std::string dir_;
};

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_COMMAND_STORE_H_
