// JulAgentApp: the java.util.logging app of rttng's agent tests (liblttng-ust-agent-java).
// Three loggers with LTTng's handler: enabled.logger (enabled by name), lvl.logger
// (enabled by a glob with --loglevel-only WARNING) and quiet.logger (enabled by no rule).
// Prints "ready" once the handler registered, waits for a line (or EOF) on stdin, logs,
// and prints "done". It deliberately logs nothing else.
import java.util.logging.Handler;
import java.util.logging.Logger;
import org.lttng.ust.agent.jul.LttngLogHandler;

public class JulAgentApp {
    public static void main(String[] args) throws Exception {
        Handler handler = new LttngLogHandler();
        Logger enabled = Logger.getLogger("enabled.logger");
        Logger lvl = Logger.getLogger("lvl.logger");
        Logger quiet = Logger.getLogger("quiet.logger");
        for (Logger l : new Logger[] {enabled, lvl, quiet}) {
            l.setUseParentHandlers(false);
            l.addHandler(handler);
        }
        AgentApps.readyThenWait();
        for (int i = 0; i < 3; i++) {
            enabled.info("hello " + i);
            lvl.info("lvl info " + i);
            lvl.warning("lvl warning " + i);
            quiet.warning("quiet " + i);
        }
        handler.close();
        System.out.println("done");
    }
}
