/*
 * appctx_app.c: a C program that registers an application context provider,
 * "$app.capp", through LTTng-UST 2.13's context provider ABI (declared here as
 * lttng-ust's src/common/ust-context-provider.h defines it: that header is not
 * installed), then emits rttng_ref:tick 3 times with provider values that change with
 * each: capp:u64 (uint64), capp:flt (float), capp:s16 (int16), capp:u8 (uint8), capp:str
 * (string); any other name of the provider records no value. Then it unregisters the
 * provider and emits one more tick (every tag is then "none"). Exits 0.
 *
 * `appctx_app bad` instead registers "$app.bad", a provider that lies: bad:str announces 6
 * bytes and writes a string tag and 5 bytes without a NUL, bad:huge announces 100000
 * bytes, bad:tag writes an unknown tag (99); then it emits one tick ("bad provider").
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lttng/ust-events.h>

#include "ref_tp.h"

struct app_ctx_value { /* lttng_ust_ctx_value */
	uint32_t struct_size;
	int sel;
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
extern void lttng_ust_context_provider_unregister(void *cookie);

enum { NONE = 0, S16 = 2, U8 = 5, U64 = 8, FLOAT = 9, STRING = 11 };

static int seq;
static char text[32];

static int which(void *priv)
{
	const char *name = ((struct app_context *) priv)->ctx_name;
	const char *p = strchr(name, ':');

	if (!p)
		return NONE;
	p++;
	if (!strcmp(p, "u64"))
		return U64;
	if (!strcmp(p, "flt"))
		return FLOAT;
	if (!strcmp(p, "s16"))
		return S16;
	if (!strcmp(p, "u8"))
		return U8;
	if (!strcmp(p, "str"))
		return STRING;
	return NONE;
}

static size_t get_size(void *priv, struct lttng_ust_probe_ctx *probe_ctx, size_t offset)
{
	switch (which(priv)) {
	case U64: return 1 + 8;
	case FLOAT: return 1 + 4;
	case S16: return 1 + 2;
	case U8: return 1 + 1;
	case STRING: return 1 + strlen(text) + 1;
	default: return 1;
	}
}

static void record(void *priv, struct lttng_ust_probe_ctx *probe_ctx,
		   struct lttng_ust_ring_buffer_ctx *ctx, struct lttng_ust_channel_buffer *chan)
{
	char tag = (char) which(priv);
	uint64_t u64 = (1ULL << 40) + seq;
	float flt = 0.5f * seq;
	int16_t s16 = -300 - seq;
	uint8_t u8 = (uint8_t) seq;

	chan->ops->event_write(ctx, &tag, 1, 1);
	switch (tag) {
	case U64: chan->ops->event_write(ctx, &u64, 8, 1); break;
	case FLOAT: chan->ops->event_write(ctx, &flt, 4, 1); break;
	case S16: chan->ops->event_write(ctx, &s16, 2, 1); break;
	case U8: chan->ops->event_write(ctx, &u8, 1, 1); break;
	case STRING: chan->ops->event_write(ctx, text, strlen(text) + 1, 1); break;
	default: break;
	}
}

static void get_value(void *priv, struct lttng_ust_probe_ctx *probe_ctx,
		      struct app_ctx_value *value)
{
	value->sel = NONE;
}

static size_t bad_size(void *priv, struct lttng_ust_probe_ctx *probe_ctx, size_t offset)
{
	const char *name = ((struct app_context *) priv)->ctx_name;

	if (strstr(name, ":str"))
		return 6;
	if (strstr(name, ":huge"))
		return 100000;
	return 2;
}

static void bad_record(void *priv, struct lttng_ust_probe_ctx *probe_ctx,
		       struct lttng_ust_ring_buffer_ctx *ctx, struct lttng_ust_channel_buffer *chan)
{
	const char *name = ((struct app_context *) priv)->ctx_name;
	char tag = strstr(name, ":str") ? STRING : 99;

	chan->ops->event_write(ctx, &tag, 1, 1);
	chan->ops->event_write(ctx, "abcde", 5, 1);
}

static int bad(void)
{
	static struct app_provider provider = {
		.struct_size = sizeof(struct app_provider),
		.name = "$app.bad",
		.get_size = bad_size,
		.record = bad_record,
		.get_value = get_value,
	};

	if (!lttng_ust_context_provider_register(&provider)) {
		fprintf(stderr, "cannot register the provider\n");
		return 1;
	}
	tracepoint(rttng_ref, tick, 1, "bad provider");
	return 0;
}

int main(int argc, char **argv)
{
	static struct app_provider provider = {
		.struct_size = sizeof(struct app_provider),
		.name = "$app.capp",
		.get_size = get_size,
		.record = record,
		.get_value = get_value,
	};
	void *cookie;

	if (argc > 1 && !strcmp(argv[1], "bad"))
		return bad();
	cookie = lttng_ust_context_provider_register(&provider);
	if (!cookie) {
		fprintf(stderr, "cannot register the provider\n");
		return 1;
	}
	for (seq = 1; seq <= 3; seq++) {
		snprintf(text, sizeof(text), "c value %d", seq);
		tracepoint(rttng_ref, tick, seq, "with provider");
	}
	lttng_ust_context_provider_unregister(cookie);
	tracepoint(rttng_ref, tick, seq, "without provider");
	return 0;
}
