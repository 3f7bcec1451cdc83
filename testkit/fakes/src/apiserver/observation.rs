//! What a test observes of the fake API server and what it injects: the requests and
//! connections it saw, the most in flight, refused tokens, faults and latency. Pure (on the
//! state).

#[allow(unused_imports)]
use super::*;

impl FakeCluster {
    /// The negotiated protocol of every TLS connection accepted so far (`h2`, `http/1.1`).
    pub fn connections(&self) -> Vec<String> {
        self.connections.protocols()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        let mut state = self.shared.lock();
        state.requests.clear();
        state.max_in_flight = state.in_flight;
    }

    /// The most requests in progress at once since the start or the last `clear_requests`.
    pub fn max_in_flight(&self) -> usize {
        self.shared.lock().max_in_flight
    }

    /// Why the last refused tokens were refused.
    pub fn rejected_tokens(&self) -> Vec<String> {
        self.shared.lock().rejected_tokens.clone()
    }

    /// The next `times` requests (of `method`, or any) meet `fault`.
    pub fn inject(&self, fault: Fault, times: usize, method: Option<Method>) {
        let mut state = self.shared.lock();
        for _ in 0..times {
            state.faults.push_back((fault.clone(), method.clone()));
        }
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }
}
