/* uploads.h: the limits on chunks that uploads.c and storage_http.c share. */
#ifndef SETTLE_UPLOADS_H
#define SETTLE_UPLOADS_H

/* API.md "Limits on input" for chunks, the one place that chunk registration (uploads.c)
 * and the storage PUT (storage_http.c) both use. SQL, for the chunks of the uploads row
 * alias u: UPLOADS_SQL_MAX_NUMBER, the highest chunk number its size needs at the minimum
 * chunk size `min` (0 counts as 1; one chunk at least); UPLOADS_SQL_ROOM, the bytes left
 * for chunk `number` by the sizes registered for the other numbers (a number registered
 * again replaces its chunk). Registration runs under a share lock of the upload, so
 * concurrent ones may overshoot the room together: the storage PUT checks it again. */
#define UPLOADS_SQL_MAX_NUMBER(min)                                                                \
	"greatest(1, ceil(u.size::numeric / greatest(" min ", 1)))::bigint"
#define UPLOADS_SQL_ROOM(number)                                                                   \
	"(u.size - (SELECT coalesce(sum(lc.size), 0) FROM chunks lc WHERE lc.upload_id = u.id"     \
	" AND lc.number <> (" number ")))::bigint"

#endif
