// JulContextApp: the java.util.logging app of rttng's application-context tests
// (liblttng-ust-agent-java): a context retriever "myprov" answering text (String), num
// (Long), int (Integer), dbl (Double), flag (Boolean) and nul (null), and one logger
// ctx.logger with LTTng's handler. Prints "ready", waits for a line (or EOF) on stdin,
// logs three records (the values change with each), prints "done".
import java.util.logging.Handler;
import java.util.logging.Logger;
import org.lttng.ust.agent.context.ContextInfoManager;
import org.lttng.ust.agent.context.IContextInfoRetriever;
import org.lttng.ust.agent.jul.LttngLogHandler;

public class JulContextApp {
    public static void main(String[] args) throws Exception {
        final int[] n = {0};
        IContextInfoRetriever r = new IContextInfoRetriever() {
            public Object retrieveContextInfo(String key) {
                switch (key) {
                case "text": return "value " + n[0];
                case "num": return Long.valueOf(40 + n[0]);
                case "int": return Integer.valueOf(-7 - n[0]);
                case "dbl": return Double.valueOf(1.5 * n[0]);
                case "flag": return Boolean.valueOf(n[0] % 2 == 0);
                case "nul": return null;
                default: return null;
                }
            }
        };
        ContextInfoManager.getInstance().registerContextInfoRetriever("myprov", r);
        Handler handler = new LttngLogHandler();
        Logger l = Logger.getLogger("ctx.logger");
        l.setUseParentHandlers(false);
        l.addHandler(handler);
        System.out.println("ready");
        System.out.flush();
        while (true) { int c = System.in.read(); if (c == -1 || c == '\n') break; }
        for (int i = 0; i < 3; i++) { n[0] = i; l.info("hello " + i); }
        handler.close();
        System.out.println("done");
    }
}
