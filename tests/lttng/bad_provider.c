/*
 * bad_provider.c: hands malformed probe descriptors to lttng_ust_probe_register, as a
 * buggy or hostile provider would, next to the good `rttng_ref` provider (ref_tp.c):
 * an unsupported ABI major, a NULL provider name, an event with a NULL name, a field
 * with a NULL type, an array of 2^31 elements, a NULL descriptor, and the same
 * provider twice. Then it emits rttng_ref:tick (seq 11) and exits 0: the tracer must
 * neither crash nor block, and must log one line per refused part.
 */
#include <stdio.h>
#include <stdlib.h>

#include <lttng/ust-events.h>

#include "ref_tp.h"

static void noop_probe(void) {}

static const struct lttng_ust_type_integer int_type = {
	.parent = { .type = lttng_ust_type_integer },
	.struct_size = sizeof(struct lttng_ust_type_integer),
	.size = 32, .alignment = 8, .signedness = 1, .base = 10,
};
static const struct lttng_ust_type_array huge_array = {
	.parent = { .type = lttng_ust_type_array },
	.struct_size = sizeof(struct lttng_ust_type_array),
	.elem_type = &int_type.parent,
	.length = 1u << 31,
};
static const struct lttng_ust_event_field null_type_field = {
	.struct_size = sizeof(struct lttng_ust_event_field), .name = "f", .type = NULL,
};
static const struct lttng_ust_event_field huge_field = {
	.struct_size = sizeof(struct lttng_ust_event_field), .name = "big", .type = &huge_array.parent,
};
static const struct lttng_ust_event_field *const fields_null_type[] = { &null_type_field };
static const struct lttng_ust_event_field *const fields_huge[] = { &huge_field };

#define CLASS(n, f, nr)                                                                  \
	static const struct lttng_ust_tracepoint_class n = {                               \
		.struct_size = sizeof(struct lttng_ust_tracepoint_class), .fields = f,       \
		.nr_fields = nr, .probe_callback = noop_probe, .signature = "",             \
	};
CLASS(class_ok, NULL, 0)
CLASS(class_null_type, fields_null_type, 1)
CLASS(class_huge, fields_huge, 1)

#define EVENT(n, name, cls)                                                              \
	static const struct lttng_ust_event_desc n = {                                     \
		.struct_size = sizeof(struct lttng_ust_event_desc), .event_name = name,      \
		.tp_class = &cls,                                                          \
	};
EVENT(ev_null_name, NULL, class_ok)
EVENT(ev_null_type, "null_type", class_null_type)
EVENT(ev_huge, "huge", class_huge)
EVENT(ev_fine, "fine", class_ok)

static const struct lttng_ust_event_desc *const bad_events[] = {
	&ev_null_name, &ev_null_type, &ev_huge, &ev_fine,
};

#define PROVIDER(n, name, major_v, evs, nr)                                              \
	static const struct lttng_ust_probe_desc n = {                                     \
		.struct_size = sizeof(struct lttng_ust_probe_desc), .provider_name = name,   \
		.event_desc = evs, .nr_events = nr, .major = major_v, .minor = 0,            \
	};
PROVIDER(p_major, "bad_major", 99, bad_events, 4)
PROVIDER(p_null_name, NULL, 3, bad_events, 4)
PROVIDER(p_events, "bad_events", 3, bad_events, 4)

int main(void)
{
	const struct lttng_ust_probe_desc *const descs[] = { &p_major, &p_null_name, &p_events, NULL, &p_events };

	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++) {
		if (!lttng_ust_probe_register(descs[i])) {
			fprintf(stderr, "probe_register returned NULL for #%zu\n", i);
			return 1;
		}
	}
	tracepoint(rttng_ref, tick, 11, "after bad providers");
	return 0;
}
