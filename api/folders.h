/* folders.h: folder checks that other resources (files, children, moves) share. */
#ifndef SETTLE_FOLDERS_H
#define SETTLE_FOLDERS_H

#include <jansson.h>

#include "access.h"
#include "http.h"

/* The deepest a folder may lie: a folder at the project root is at depth 1, and no folder
 * is created or moved (with what lies below it) deeper than this (docs/api.md "Folder depth").
 * Real trees are far shallower; the bound keeps each walk up the tree (one index probe a
 * level, for the ancestors of every item of every listing) and a downloaded path short. */
#define FOLDERS_MAX_DEPTH 100

/* FOLDERS_MAX_DEPTH as a string literal, for SQL parameters and messages. */
#define FOLDERS_STR_(x) #x
#define FOLDERS_STR(x)  FOLDERS_STR_(x)

/* Checks that folder_id is a live folder of a live project where the caller's role grants
 * perm (an ACCESS_* name). Returns 1 with *p filled; 0 after answering 404/403; -1 after
 * answering a database error. */
int folders_access(struct req *r, const char *folder_id, const char *perm,
                   struct access_project *p) MUSTCHECK;

/* The one reader of body["parent"] = {"kind": "dds-project"|"dds-folder", "id"} (POST
 * /folders, POST /files, moves): 1 with *is_folder and *id (borrowed from body) set; 0 when
 * there is no "parent" and it is not required (nothing answered); -1 after answering 400
 * (missing when required, bad shape or kind) or 404 (a malformed id). */
int folders_read_parent(struct req *r, json_t *body, bool required, bool *is_folder,
                        const char **id) MUSTCHECK;

/* Answers 400 validation_failed on "parent": the folder, or one below it, would lie deeper
 * than FOLDERS_MAX_DEPTH there. */
void folders_too_deep(struct req *r);

/* In the caller's open transaction: 1 when folder, and every folder below it (only the
 * live ones when live; else the trashed ones too, as for a restore), stays within
 * FOLDERS_MAX_DEPTH once it lies in folder target (NULL: the project root); else 0 after
 * answering 400; -1 after answering a database error. */
int folders_depth_ok(struct req *r, const char *target, const char *folder, bool live) MUSTCHECK;

#endif
