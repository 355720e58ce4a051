// muse_log: print the history of a muse repository from C++.
//
//     muse_log DIR [MAX]
//
// Shows how to wrap the C API in C++: handles owned by std::unique_ptr
// with the library's free functions as deleters, status codes turned into
// exceptions that carry muse_last_error_message().
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "muse.h"

namespace muse {

// An error from libmuse: the status and the thread's last-error message.
class error : public std::runtime_error {
public:
    error(muse_status status, const char *what)
        : std::runtime_error(std::string(what) + ": " + muse_status_name(status) + ": " +
                             muse_last_error_message()),
          status_(status) {}
    muse_status status() const { return status_; }

private:
    muse_status status_;
};

inline void check(muse_status st, const char *what) {
    if (st != MUSE_OK) throw error(st, what);
}

// unique_ptr deleters calling the matching free function.
struct repo_deleter { void operator()(muse_repo *p) const { muse_repo_free(p); } };
struct commit_deleter { void operator()(muse_commit *p) const { muse_commit_free(p); } };
struct log_deleter { void operator()(muse_log_iter *p) const { muse_log_iter_free(p); } };
struct list_deleter { void operator()(muse_ref_list *p) const { muse_ref_list_free(p); } };

using repo_ptr = std::unique_ptr<muse_repo, repo_deleter>;
using commit_ptr = std::unique_ptr<muse_commit, commit_deleter>;
using log_ptr = std::unique_ptr<muse_log_iter, log_deleter>;
using list_ptr = std::unique_ptr<muse_ref_list, list_deleter>;

inline repo_ptr open(const std::string &path) {
    muse_repo *raw = nullptr;
    check(muse_repo_open(path.c_str(), &raw), "muse_repo_open");
    return repo_ptr(raw);
}

struct branch {
    std::string name, commit_id;
};

inline std::vector<branch> branches(const muse_repo *repo) {
    muse_ref_list *raw = nullptr;
    check(muse_ref_list_branches(repo, &raw), "muse_ref_list_branches");
    list_ptr list(raw);
    std::vector<branch> out;
    for (size_t i = 0; i < muse_ref_list_len(list.get()); i++) {
        const char *name = nullptr, *id = nullptr;
        check(muse_ref_list_get(list.get(), i, &name, &id), "muse_ref_list_get");
        out.push_back({name, id});
    }
    return out;
}

// A first-parent walk from HEAD, one commit at a time.
class log {
public:
    explicit log(const muse_repo *repo) {
        muse_log_iter *raw = nullptr;
        check(muse_log_iter_new(repo, nullptr, &raw), "muse_log_iter_new");
        it_.reset(raw);
    }
    // The next commit, or an empty pointer at the end of the history.
    commit_ptr next() {
        muse_commit *raw = nullptr;
        bool done = false;
        check(muse_log_iter_next(it_.get(), &raw, &done), "muse_log_iter_next");
        return commit_ptr(done ? nullptr : raw);
    }

private:
    log_ptr it_;
};

}  // namespace muse

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s DIR [MAX]\n", argv[0]);
        return 2;
    }
    long max = argc == 3 ? std::strtol(argv[2], nullptr, 10) : 20;
    try {
        muse::repo_ptr repo = muse::open(argv[1]);
        std::printf("repository %s (libmuse %s)\n", muse_repo_root(repo.get()), muse_version());
        for (const auto &b : muse::branches(repo.get()))
            std::printf("  branch %-20s %s\n", b.name.c_str(), b.commit_id.c_str());
        muse::log log(repo.get());
        long n = 0;
        while (n < max) {
            muse::commit_ptr c = log.next();
            if (!c) break;
            std::printf("%.19s  %.19s  %s\n", muse_commit_id(c.get()), muse_commit_committed_at(c.get()),
                        muse_commit_message(c.get()));
            n++;
        }
        std::printf("%ld commit(s)\n", n);
    } catch (const muse::error &e) {
        std::fprintf(stderr, "muse_log: %s\n", e.what());
        return e.status() == MUSE_E_NOT_A_REPOSITORY ? 2 : 1;
    }
    return 0;
}
