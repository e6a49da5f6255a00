// Capture files: the classic pcap writer and the pcap/pcapng reader.
export * from './pcap-writer.js';
export * from './pcap-reader.js';
