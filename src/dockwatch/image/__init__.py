"""Reading images from anywhere: transports (`sources`) and manifest formats (`manifests`)."""
