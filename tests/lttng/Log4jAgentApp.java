// Log4jAgentApp: the log4j 1.2 app of rttng's agent tests (liblttng-ust-agent-java).
// Three loggers with LTTng's appender: enabled.logger (enabled by name), lvl.logger
// (enabled by a glob with --loglevel WARN) and quiet.logger (enabled by no rule).
// Prints "ready" once the appender registered, waits for a line (or EOF) on stdin, logs,
// and prints "done". It deliberately logs nothing else.
import org.apache.log4j.Appender;
import org.apache.log4j.Level;
import org.apache.log4j.Logger;
import org.lttng.ust.agent.log4j.LttngLogAppender;

public class Log4jAgentApp {
    public static void main(String[] args) throws Exception {
        Appender appender = new LttngLogAppender();
        Logger enabled = Logger.getLogger("enabled.logger");
        Logger lvl = Logger.getLogger("lvl.logger");
        Logger quiet = Logger.getLogger("quiet.logger");
        for (Logger l : new Logger[] {enabled, lvl, quiet}) {
            l.setAdditivity(false);
            l.setLevel(Level.ALL);
            l.addAppender(appender);
        }
        AgentApps.readyThenWait();
        for (int i = 0; i < 3; i++) {
            enabled.info("hello " + i);
            enabled.debug("debug " + i);
            lvl.info("lvl info " + i);
            lvl.error("lvl error " + i);
            quiet.warn("quiet " + i);
        }
        appender.close();
        System.out.println("done");
    }
}
