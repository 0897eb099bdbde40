/*
 * appfilter_app.c: a C program whose application context provider, "$app.myprov",
 * answers filters (`get_value`, LTTng-UST 2.13's context provider ABI, declared here as
 * lttng-ust's src/common/ust-context-provider.h defines it: that header is not
 * installed). It emits rttng_ref:tick for seq = 0 .. 23; for each, get_value gives:
 *
 *   myprov:val    S64 seq
 *   myprov:dbl    DOUBLE seq * 0.75
 *   myprov:name   STRING, cycling "alpha", "apple", "beta", "a*", "", "zeta"
 *   myprov:mixed  by seq % 5: S64 seq, DOUBLE seq + 0.5, STRING "3", NONE, S64 3
 *   myprov:null   STRING with a NULL pointer
 *   myprov:u8     U8 seq (a selector lttng-ust's filter does not take)
 *   myprov:tag    an unknown selector (99)
 *   anything else NONE
 *
 * Records (get_size/record) write the NONE tag: this app is about filters. Exits 0.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lttng/ust-events.h>

#include "ref_tp.h"

struct app_ctx_value { /* lttng_ust_ctx_value */
	int sel; /* enum lttng_ust_dynamic_type */
	union {
		int64_t s64;
		uint64_t u64;
		const char *str;
		double d;
	} u;
};

struct app_provider { /* lttng_ust_context_provider */
	uint32_t struct_size;
	const char *name;
	size_t (*get_size)(void *priv, struct lttng_ust_probe_ctx *probe_ctx, size_t offset);
	void (*record)(void *priv, struct lttng_ust_probe_ctx *probe_ctx,
		       struct lttng_ust_ring_buffer_ctx *ctx,
		       struct lttng_ust_channel_buffer *chan);
	void (*get_value)(void *priv, struct lttng_ust_probe_ctx *probe_ctx,
			  struct app_ctx_value *value);
	void *priv;
};

struct app_context { /* lttng_ust_app_context: the priv the provider gets */
	uint32_t struct_size;
	void *event_field;
	char *ctx_name;
};

extern void *lttng_ust_context_provider_register(struct app_provider *provider);

enum { NONE = 0, S64 = 4, U8 = 5, DOUBLE = 10, STRING = 11 };

#define EVENTS 24

static int seq;
static const char *names[] = { "alpha", "apple", "beta", "a*", "", "zeta" };

static const char *ctx_of(void *priv)
{
	const char *p = strchr(((struct app_context *) priv)->ctx_name, ':');

	return p ? p + 1 : "";
}

static size_t get_size(void *priv, struct lttng_ust_probe_ctx *probe_ctx, size_t offset)
{
	return 1;
}

static void record(void *priv, struct lttng_ust_probe_ctx *probe_ctx,
		   struct lttng_ust_ring_buffer_ctx *ctx, struct lttng_ust_channel_buffer *chan)
{
	char tag = NONE;

	chan->ops->event_write(ctx, &tag, 1, 1);
}

static void get_value(void *priv, struct lttng_ust_probe_ctx *probe_ctx,
		      struct app_ctx_value *value)
{
	const char *c = ctx_of(priv);

	value->sel = NONE;
	if (!strcmp(c, "val")) {
		value->sel = S64;
		value->u.s64 = seq;
	} else if (!strcmp(c, "dbl")) {
		value->sel = DOUBLE;
		value->u.d = seq * 0.75;
	} else if (!strcmp(c, "name")) {
		value->sel = STRING;
		value->u.str = names[seq % 6];
	} else if (!strcmp(c, "mixed")) {
		switch (seq % 5) {
		case 0: value->sel = S64; value->u.s64 = seq; break;
		case 1: value->sel = DOUBLE; value->u.d = seq + 0.5; break;
		case 2: value->sel = STRING; value->u.str = "3"; break;
		case 3: value->sel = NONE; break;
		default: value->sel = S64; value->u.s64 = 3; break;
		}
	} else if (!strcmp(c, "null")) {
		value->sel = STRING;
		value->u.str = NULL;
	} else if (!strcmp(c, "u8")) {
		value->sel = U8;
		value->u.u64 = (uint8_t) seq;
	} else if (!strcmp(c, "tag")) {
		value->sel = 99;
		value->u.s64 = seq;
	}
}

int main(void)
{
	static struct app_provider provider = {
		.struct_size = sizeof(struct app_provider),
		.name = "$app.myprov",
		.get_size = get_size,
		.record = record,
		.get_value = get_value,
	};

	if (!lttng_ust_context_provider_register(&provider)) {
		fprintf(stderr, "cannot register the provider\n");
		return 1;
	}
	for (seq = 0; seq < EVENTS; seq++)
		tracepoint(rttng_ref, tick, seq, "tick");
	return 0;
}
