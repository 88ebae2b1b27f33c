/* project_initialize.h: the project.initialize job (project_initialize.c). */
#ifndef SETTLE_PROJECT_INITIALIZE_H
#define SETTLE_PROJECT_INITIALIZE_H

#include "kind.h"

#define JOB_PROJECT_INITIALIZE "project.initialize"

/* Creates the project's storage container and makes the project consistent. */
extern const struct job_kind project_initialize_kind;

#endif
