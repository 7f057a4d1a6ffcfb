/*  replay.c: a main for a fuzz target without libFuzzer.
 *
 *  `fuzz_replay_<target> PATH...` calls the target's LLVMFuzzerTestOneInput
 *  once per file, reading every regular file of each directory given (the
 *  seed corpora in tests/fuzz/corpus/<target>/). ctest runs it in every
 *  build, so the release, ASan + UBSan, Debug and TSan legs all replay the
 *  corpora. Exits 0 when every input ran; 1 when a path cannot be read or a
 *  directory is empty (a corpus that vanished must not pass silently). A
 *  bug in the target aborts it.
 */
#include "fuzz.h"
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

static int s_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    int bad = ferror(f);
    fclose(f);
    if (!bad) {
        /* a copy of exactly len bytes, so ASan sees reads past the input */
        uint8_t *exact = malloc(len ? len : 1);
        if (!exact)
            abort();
        memcpy(exact, buf, len);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    free(buf);
    return bad ? -1 : 0;
}

/*  Runs every regular file in dir; returns how many ran, -1 on an error. */
static int s_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    int n = 0;
    struct dirent *de;
    char path[4096];
    while (n >= 0 && (de = readdir(d))) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (de->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        n = s_file(path) == 0 ? n + 1 : -1;
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    int total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) ? s_dir(argv[i]) : s_file(argv[i]) == 0;
        if (n <= 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], n < 0 ? "cannot read" : "no inputs");
            return 1;
        }
        total += n;
    }
    printf("replay: %d inputs ran\n", total);
    return 0;
}
