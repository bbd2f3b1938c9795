//! The conversation handed to a template.

use std::fmt;
use std::str::FromStr;

use super::ChatError;

/// Who wrote a message. A closed set: a misspelt role (`"assitant"`) is rejected when the
/// message is built instead of being printed verbatim by permissive templates such as ChatML's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    /// The name templates compare against (`message.role == "assistant"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

impl FromStr for Role {
    type Err = ChatError;

    fn from_str(name: &str) -> Result<Self, ChatError> {
        match name {
            "system" => Ok(Role::System),
            "user" => Ok(Role::User),
            "assistant" => Ok(Role::Assistant),
            _ => Err(ChatError::UnknownRole(name.to_owned())),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
        }
    }

    /// A message whose role arrives as text (from JavaScript, a JSON request); unknown roles
    /// are an error.
    pub fn parse(role: &str, content: impl Into<String>) -> Result<Self, ChatError> {
        Ok(Message::new(role.parse()?, content))
    }

    pub fn system(content: impl Into<String>) -> Self {
        Message::new(Role::System, content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Message::new(Role::User, content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Message::new(Role::Assistant, content)
    }
}
