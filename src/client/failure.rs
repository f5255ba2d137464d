//! What a client command failed with: a gRPC code (the server's, or the one that names a local
//! mistake) and a message. The process exits with the code's number and prints its name.

/// A failed command.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The code; `vastgate client` exits with its number.
    pub code: tonic::Code,
    /// What went wrong and, where we know, what to do.
    pub message: String,
}

impl Failure {
    /// A failure with `code`.
    pub fn new(code: tonic::Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A local mistake in the command line.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::InvalidArgument, message)
    }

    /// The reader of our output closed it (`| head`): stop quietly, successfully.
    pub fn output_closed() -> Self {
        Self::new(tonic::Code::Ok, "the output was closed")
    }

    /// Whether this is [`Failure::output_closed`].
    pub fn is_output_closed(&self) -> bool {
        self.code == tonic::Code::Ok
    }

    /// The exit code: the gRPC code's number (1–16; never 0).
    pub fn exit_code(&self) -> u8 {
        u8::try_from(self.code as i32)
            .ok()
            .filter(|c| *c != 0)
            .unwrap_or(2)
    }
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Self::new(status.code(), status.message())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", code_name(self.code), self.message)
    }
}

/// The canonical name of a gRPC code (`NOT_FOUND`), as grpcurl and the gRPC docs spell it.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
