/** `--format` help, shared by the commands that print JSON. */
export const FORMAT_HELP =
  'output format and IPFIXcol2 JSON options: json[,opt=value...]; options tcpFlags=formatted|raw, ' +
  'timestamp=formatted|unix, protocol=formatted|raw, ignoreUnknown, ignoreOptions, nonPrintableChar, ' +
  'octetArrayAsUint, numericNames, splitBiflow, detailedInfo, templateInfo (true|false); sluice\'s own: ' +
  'scaledCounters (adds sluice:samplingRate and the counts scaled by it)';
