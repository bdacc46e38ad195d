/*
 * version.c -- deja_version and deja_build_info (deja/version.h), shared by
 * both backends. The build system passes the git description and the build
 * type; the compiler names itself through its own macros.
 */
#include <stdio.h>
#include <string.h>

#include "deja/version.h"

#ifndef DEJA_GIT_DESCRIBE
#define DEJA_GIT_DESCRIBE "none"
#endif
#ifndef DEJA_BUILD_TYPE
#define DEJA_BUILD_TYPE ""
#endif

#if defined(__clang__)
#define DEJA__COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define DEJA__COMPILER "gcc " __VERSION__
#else
#define DEJA__COMPILER "unknown"
#endif

const char *deja_version(void) { return DEJA_VERSION_STRING; }

const char *deja_build_info(void) {
    return "git=" DEJA_GIT_DESCRIBE " build=" DEJA_BUILD_TYPE " compiler=" DEJA__COMPILER;
}

void deja_version_print(const char *name, FILE *out) {
    const char *slash = strrchr(name, '/');
    fprintf(out, "%s %s\nbuild: %s\n", slash ? slash + 1 : name, deja_version(), deja_build_info());
}
