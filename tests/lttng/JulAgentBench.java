// JulAgentBench N: the cost of one java.util.logging call through LTTng's JUL handler, for a
// logger a rule enables and for one no rule enables, around N calls each after N/2 warm-up
// calls: this thread's CPU time (the figure a loaded host disturbs least) and wall time.
// Prints one line: jul enabled_ns=X quiet_ns=Y enabled_wall_ns=X quiet_wall_ns=Y calls=N
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.logging.Handler;
import java.util.logging.Logger;
import org.lttng.ust.agent.jul.LttngLogHandler;

public class JulAgentBench {
    static double[] perCall(Logger l, int n) {
        ThreadMXBean t = ManagementFactory.getThreadMXBean();
        for (int i = 0; i < n / 2; i++) {
            l.info("warm-up " + i);
        }
        long c0 = t.getCurrentThreadCpuTime();
        long w0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            l.info("message " + i);
        }
        return new double[] {
            (t.getCurrentThreadCpuTime() - c0) / (double) n, (System.nanoTime() - w0) / (double) n
        };
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 200000;
        Handler handler = new LttngLogHandler();
        Logger enabled = Logger.getLogger("bench.enabled");
        Logger quiet = Logger.getLogger("bench.quiet");
        for (Logger l : new Logger[] {enabled, quiet}) {
            l.setUseParentHandlers(false);
            l.addHandler(handler);
        }
        double[] e = perCall(enabled, n);
        double[] q = perCall(quiet, n);
        handler.close();
        System.out.printf(
                "jul enabled_ns=%.0f quiet_ns=%.0f enabled_wall_ns=%.0f quiet_wall_ns=%.0f calls=%d%n",
                e[0], q[0], e[1], q[1], n);
    }
}
