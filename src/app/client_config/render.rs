//! One format of the [`Model`] rendered.

use crate::app::client_config::containerd;
use crate::app::client_config::model::{Format, Model, Rendered};
use crate::app::client_config::openshift::{self, Kind};
use crate::app::client_config::registries_conf;

/// The files of `format`, and the warnings that only apply to it.
pub fn render(model: &Model, format: Format) -> Rendered {
    match format {
        Format::Containerd => containerd::render(model),
        Format::RegistriesConf => registries_conf::render(model),
        Format::Idms => openshift::render(model, Kind::Digest),
        Format::Itms => openshift::render(model, Kind::Tag),
    }
}
