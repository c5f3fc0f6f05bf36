//! A worker's output framed the way its pool's channel is: by line (JSON) or by length
//! prefix (advanced).

use bytes::{Bytes, BytesMut};

use crate::config::Serialization;
use crate::wire::frames::FrameReader;
use crate::wire::framing::{FrameError, LineReader};

pub enum Reader {
    Lines(LineReader),
    Frames(FrameReader),
}

impl Reader {
    pub fn new(serialization: Serialization, max_message: usize) -> Self {
        match serialization {
            Serialization::Json => Reader::Lines(LineReader::new(max_message)),
            Serialization::Advanced => Reader::Frames(FrameReader::new(max_message)),
        }
    }

    /// The buffer to read into; it always has spare room for one more read.
    pub fn buffer(&mut self) -> &mut BytesMut {
        match self {
            Reader::Lines(r) => r.buffer(),
            Reader::Frames(r) => r.buffer(),
        }
    }

    /// Takes every complete message read so far as one chunk.
    pub fn take_complete(&mut self) -> Result<Option<Bytes>, FrameError> {
        match self {
            Reader::Lines(r) => r.take_complete(),
            Reader::Frames(r) => r.take_complete(),
        }
    }
}
