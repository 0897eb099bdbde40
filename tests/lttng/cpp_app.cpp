// cpp_app.cpp: a C++ application with the `rttng_ref` provider (ref_tp.h, compiled as
// C++ here), emitting one rttng_ref:tock (seq 5, label "c++") from a member function.
#include <string>

#include "ref_tp.h"

namespace {
struct Emitter {
	std::string label{"c++"};
	void emit(unsigned long seq) const { tracepoint(rttng_ref, tock, seq, label.c_str()); }
};
} // namespace

int main()
{
	Emitter{}.emit(5);
	return 0;
}
