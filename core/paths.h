/*
 * core/paths.h: where Portico's files live.
 *
 * XDG base directories with the usual fallbacks, the folder of the running
 * executable (to find the bundled plugins installed beside it), and small
 * path helpers. Every returned string is malloc'd and owned by the caller.
 */
#ifndef PT_PATHS_H
#define PT_PATHS_H

/* $PORTICO_DATA_DIR, else $XDG_DATA_HOME/portico, else
 * ~/.local/share/portico. NULL if HOME is unset too. */
char *pt_paths_data_dir(void);

/* The folder holding the running executable, or NULL. */
char *pt_paths_exe_dir(void);

/* a + "/" + b. NULL on ENOMEM. */
char *pt_paths_join(const char *a, const char *b);

#endif
