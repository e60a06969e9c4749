/* version.h - juggle's version, as `juggle --version`, the reports and
 * the download kind's User-Agent say it. */
#ifndef JUGGLE_VERSION_H
#define JUGGLE_VERSION_H

#define JUGGLE_VERSION "0.1.0"

#endif
