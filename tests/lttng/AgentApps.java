// AgentApps: what rttng's agent test apps (JulAgentApp, Log4jAgentApp) share: "ready" once
// the app's LTTng handler is registered, then a wait for a line (or EOF) on stdin, so that
// the test enables its rules before the app logs. It deliberately logs nothing.
final class AgentApps {
    private AgentApps() {}

    static void readyThenWait() throws java.io.IOException {
        System.out.println("ready");
        System.out.flush();
        while (true) {
            int c = System.in.read();
            if (c == -1 || c == '\n') {
                return;
            }
        }
    }
}
