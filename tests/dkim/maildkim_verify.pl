#!/usr/bin/perl
# Verify many messages with Mail::DKIM (libmail-dkim-perl) in one process.
#
#   maildkim_verify.pl DNS_FILE MESSAGE...
#
# For every DKIM-Signature of every message, print one line
# FILE<TAB>DOMAIN<TAB>SELECTOR<TAB>ALGORITHM<TAB>pass|fail<TAB>REASON.
# TXT lookups are answered from DNS_FILE (lines "NAME TXT-VALUE") by a
# local resolver object, so no DNS server is queried. Mail::DKIM reads
# CRLF line ends, so bare LF is turned into CRLF first, as an SMTP client
# would send it.
#
# Debian 12 ships Mail::DKIM 1.20230212, which has no ed25519-sha256:
# it reports those signatures as failed ("unsupported algorithm").
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Mail::DKIM::DNS;
use Net::DNS;

package LocalResolver;

sub new {
	my ($class, $path) = @_;
	my %records;
	open(my $fh, '<', $path) or die "maildkim_verify: cannot open $path: $!\n";
	while (my $line = <$fh>) {
		$line =~ s/\s+\z//;
		next if $line eq '' || $line =~ /^#/;
		my ($name, $value) = split(/\s+/, $line, 2);
		$name =~ s/\.\z//;
		$records{lc $name} = $value;
	}
	close($fh);
	return bless { records => \%records, error => 'NOERROR' }, $class;
}

# Build the reply packet Net::DNS::Resolver::send would return: NOERROR
# with the TXT record split into strings of at most 255 octets, or
# NXDOMAIN.
sub send {
	my ($self, $name, $type) = @_;
	my $key = lc $name;
	$key =~ s/\.\z//;
	my $packet = Net::DNS::Packet->new($name, $type, 'IN');
	$packet->header->qr(1);
	my $value = $self->{records}{$key};
	if (defined $value && uc $type eq 'TXT') {
		my @strings = unpack('(a255)*', $value);
		$packet->push(answer => Net::DNS::RR->new(
			name => $name, type => 'TXT', ttl => 60,
			txtdata => \@strings));
		$packet->header->rcode('NOERROR');
	} else {
		$packet->header->rcode('NXDOMAIN');
	}
	return $packet;
}

sub errorstring { return $_[0]{error}; }

package main;

my $dns_path = shift @ARGV
	or die "usage: maildkim_verify.pl DNS_FILE MESSAGE...\n";
Mail::DKIM::DNS::resolver(LocalResolver->new($dns_path));

for my $path (@ARGV) {
	open(my $fh, '<:raw', $path) or die "maildkim_verify: cannot open $path: $!\n";
	local $/;
	my $message = <$fh>;
	close($fh);
	$message =~ s/\r?\n/\r\n/g;

	my $verifier = Mail::DKIM::Verifier->new();
	$verifier->PRINT($message);
	$verifier->CLOSE();

	for my $sig ($verifier->signatures) {
		my $result = $sig->result // 'none';
		my $detail = $sig->result_detail // '-';
		$detail =~ s/\s+/ /g;
		$detail =~ s/ \z//;
		print join("\t", $path, $sig->domain // '-', $sig->selector // '-',
			$sig->algorithm // '-', $result eq 'pass' ? 'pass' : 'fail',
			$detail), "\n";
	}
}
