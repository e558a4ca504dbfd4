package main

import (
	"github.com/ayaflow/ayaflow/config"
	"github.com/ayaflow/ayaflow/sinks/file"
	"github.com/ayaflow/ayaflow/sinks/kafka"
	"github.com/ayaflow/ayaflow/sinks/nats"
)

// The sinks' options are conversions of the configuration model, which
// loadConfig reads once from the flags (and the file and environment
// behind them): one reader of each flag, and Validate and the sinks see
// the same values.

// kafkaFrom converts the model's Kafka section.
func kafkaFrom(k config.Kafka) kafka.Options {
	return kafka.Options{
		Brokers: k.Brokers, Topic: k.Topic, NoCreateTopics: k.NoCreateTopics, Partitions: k.Partitions,
		ReplicationFactor: k.ReplicationFactor, Compression: k.Compression, RequiredAcks: k.RequiredAcks,
		BatchSize: k.BatchSize, BatchBytes: k.BatchBytes, BatchTimeout: k.BatchTimeout, WriteTimeout: k.WriteTimeout,
		RequestTimeout: k.RequestTimeout, DialTimeout: k.DialTimeout, MaxAttempts: k.MaxAttempts,
		BackoffMin: k.BackoffMin, BackoffMax: k.BackoffMax, ClientID: k.ClientID,
		TLS: kafka.TLSOptions{Enable: k.TLS.Enable, CAFile: k.TLS.CAFile, CertFile: k.TLS.CertFile, KeyFile: k.TLS.KeyFile,
			InsecureSkipVerify: k.TLS.InsecureSkipVerify, ServerName: k.TLS.ServerName},
		SASL: kafka.SASLOptions{Mechanism: k.SASL.Mechanism, Username: k.SASL.Username, PasswordFile: k.SASL.PasswordFile,
			Password: string(k.SASL.Password)},
	}
}

// natsFrom converts the model's NATS section.
func natsFrom(n config.NATS) nats.Options {
	return nats.Options{
		URL: n.URL, Subject: n.Subject, JetStream: n.JetStream, BatchPerMessage: !n.PerEvent, Name: n.Name,
		CredsFile: n.CredsFile, NKeyFile: n.NKeyFile, TokenFile: n.TokenFile, Token: string(n.Token), User: n.User,
		PasswordFile: n.PasswordFile, Password: string(n.Password), CAFile: n.TLS.CAFile, CertFile: n.TLS.CertFile,
		KeyFile: n.TLS.KeyFile, InsecureSkipVerify: n.TLS.InsecureSkipVerify, ReconnectWait: n.ReconnectWait,
		MaxReconnects: n.MaxReconnects, ConnectTimeout: n.ConnectTimeout, AckTimeout: n.AckTimeout, MaxPending: n.MaxPending,
	}
}

// fileFrom converts the model's file section; 0 means off on the command
// line and in the file, and negative means off in file.Options.
func fileFrom(f config.File) file.Options {
	o := file.Options{Path: f.Path, RotateBytes: f.RotateBytes, RotateAge: f.RotateAge, MaxFiles: f.MaxFiles,
		Compression: file.Compression(f.Compression), Fsync: file.FsyncPolicy(f.Fsync)}
	if o.RotateBytes <= 0 {
		o.RotateBytes = -1
	}
	if o.RotateAge <= 0 {
		o.RotateAge = -1
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = -1
	}
	return o
}
