//! Loopback fakes for kubeflow-profile-manager's tests and local runs.
